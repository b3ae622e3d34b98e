import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { AccountsService } from './accounts/service.ts';
import { createAttachmentQueues } from './attachments/jobs.ts';
import { AttachmentsService } from './attachments/service.ts';
import { DownloadSigner } from './attachments/signing.ts';
import { createStorage } from './attachments/storage/index.ts';
import { AttachmentsWorker } from './attachments/worker.ts';
import { CommentsService } from './comments/service.ts';
import { InboxService } from './inbox/service.ts';
import { LabelsService } from './labels/service.ts';
import { createMaintenanceQueues } from './maintenance/jobs.ts';
import { MaintenanceWorker } from './maintenance/worker.ts';
import { createNotificationQueues } from './notifications/jobs.ts';
import type { Mailer } from './notifications/mailer.ts';
import { NotificationsService } from './notifications/service.ts';
import { NotificationWorker } from './notifications/worker.ts';
import { TokenService } from './platform/auth.ts';
import { type Bus, InProcessBus, RedisBus } from './platform/bus.ts';
import type { AppConfig } from './platform/config.ts';
import type { Database } from './platform/db/index.ts';
import type { Jobs } from './platform/jobs/index.ts';
import { openRedis } from './platform/redis.ts';
import { ProjectsService } from './projects/service.ts';
import { StatusesService } from './projects/statuses.ts';
import { Hub } from './realtime/hub.ts';
import { RealtimeService } from './realtime/service.ts';
import { externalFeed } from './tasks/external.ts';
import { TasksService } from './tasks/service.ts';

/*
 * The one place that builds the features' services and wires them to each other: the API (app.ts),
 * the workers (main.ts) and the CLI all start here. A new feature adds its service, its listeners
 * on task writes, its queues and its worker below.
 */

export interface Services {
  config: AppConfig;
  db: Database;
  jobs: Jobs;
  /** Shared state across processes (rate limits, caches, events) when REDIS_URL is set. */
  redis: Redis | undefined;
  tokens: TokenService;
  /** Live updates: this process's sockets, fed by a bus that spans every process when Redis is there. */
  bus: Bus;
  hub: Hub;
  realtime: RealtimeService;
  accounts: AccountsService;
  notifications: NotificationsService;
  tasks: TasksService;
  projects: ProjectsService;
  statuses: StatusesService;
  labels: LabelsService;
  comments: CommentsService;
  inbox: InboxService;
  attachments: AttachmentsService;
  /** Signs the attachments' download links (a key of its own, derived from JWT_SECRET). */
  signer: DownloadSigner;
  /** Closes what these opened (the bus, Redis); the database and the jobs are the caller's. */
  close(): Promise<void>;
}

export function createServices(
  config: AppConfig,
  db: Database,
  jobs: Jobs,
  logger: Logger = pino({ level: config.logLevel }),
): Services {
  const redis = config.redisUrl === undefined ? undefined : openRedis(config.redisUrl, logger);
  const tokens = new TokenService(config.jwtSecret, config.accessTokenTtlSeconds, config.refreshTokenTtlSeconds);
  const bus: Bus = redis === undefined ? new InProcessBus() : new RedisBus(redis, logger);
  const hub = new Hub();
  const realtime = new RealtimeService(db, bus, hub, logger);
  const notifications = new NotificationsService(db, jobs, config.notificationDelaySeconds);
  const signer = new DownloadSigner(config.jwtSecret);
  const attachments = new AttachmentsService(db, jobs, createStorage(config), signer, config, realtime);
  const inbox = new InboxService(db, realtime);
  // The inbox items, the emails and the collection of a deleted task's files are recorded in the
  // write's transaction; once it commits, the tasks' events go first, then the inbox items (read
  // again then) to their recipients.
  const tasks = new TasksService(
    db,
    externalFeed(config, redis),
    [realtime, inbox, notifications, attachments],
    logger,
  );
  const comments = new CommentsService(db, [inbox, notifications, realtime]);
  return {
    config,
    db,
    jobs,
    redis,
    tokens,
    bus,
    hub,
    realtime,
    accounts: new AccountsService(db, tokens, realtime),
    notifications,
    tasks,
    projects: new ProjectsService(db, realtime),
    statuses: new StatusesService(db, realtime, tasks),
    labels: new LabelsService(db, realtime),
    comments,
    inbox,
    attachments,
    signer,
    async close() {
      // What has committed is told to the other processes before the bus goes.
      await tasks.announced();
      await bus.close();
      await redis?.quit().catch(() => redis.disconnect());
    },
  };
}

/** Every feature's queues; every process creates them at start (the code's settings are the ones that count). */
export async function createQueues(
  jobs: Jobs,
  config: Pick<AppConfig, 'notificationRetryDelaySeconds' | 'notificationSendTimeoutSeconds'>,
): Promise<void> {
  await createNotificationQueues(jobs, config);
  await createMaintenanceQueues(jobs);
  await createAttachmentQueues(jobs);
}

/** What a worker process runs: every feature's workers and schedules. */
export async function startWorkers(services: Services, mailer: Mailer, logger: Logger): Promise<void> {
  const { db, jobs, config } = services;
  await new NotificationWorker(db, jobs, services.notifications, mailer, config, logger, [services.inbox]).start();
  await new MaintenanceWorker(db, jobs, logger).start();
  await new AttachmentsWorker(db, jobs, services.attachments.storage, logger).start();
}
