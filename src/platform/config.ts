import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Every setting the service reads from the environment, validated in one place.
 * A bad value stops the start with a message that names the variable.
 */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  /** Undefined until resolveJwtSecret() has run (embedded mode generates it in DATA_DIR). */
  jwtSecret: string | undefined;
  notificationDelaySeconds: number;
  /** The first retry of a failed email waits this long, each next one about twice as long. */
  notificationRetryDelaySeconds: number;
  /** A send still running after this long is presumed lost with its worker, and retried. */
  notificationSendTimeoutSeconds: number;
  /** How often workers look for such lost jobs (pg-boss's maintenance). */
  jobsMaintenanceIntervalSeconds: number;
  smtpUrl: string | undefined;
  emailFrom: string;
  publicUrl: string;
  /** PUBLIC_URL's origin when it is set: pages' next/previous links use it rather than the Host. */
  linkOrigin: string | undefined;
  externalTasksUrl: string;
  externalTasksTimeoutMs: number;
  authRateLimit: number;
  /** Requests a minute per user on the whole API. */
  rateLimit: number;
  trustProxy: boolean;
  /** Origins allowed to call the API from a browser; empty: same origin only. */
  corsOrigins: string[];
  /** Apply pending migrations at start (under a lock); false makes migrating a step of the rollout. */
  migrateOnStart: boolean;
  /** When set, /metrics answers only requests bearing it. */
  metricsToken: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** all: API and jobs in one process; api: HTTP and WebSocket only; worker: jobs only. */
  role: (typeof ROLES)[number];
  /** How often WebSocket clients are pinged; one that misses a ping is dropped at the next. */
  wsPingIntervalMs: number;
  /** Sockets one user may hold on one process; past it the oldest is closed (4429). */
  wsMaxSocketsPerUser: number;
  /** Messages a second one socket may send, in bursts of up to twice that. */
  wsMessageRate: number;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** After SIGTERM, how long requests in flight and running jobs may take before they are cut. */
  shutdownGraceSeconds: number;
  /** The largest attachment, in bytes (ATTACHMENT_MAX_MB). */
  attachmentMaxBytes: number;
  /** What one company's attachments may take in all, in bytes (STORAGE_QUOTA_MB). */
  storageQuotaBytes: number;
  /** Where attachments go: S3-compatible object storage when S3_BUCKET is set, else DATA_DIR/attachments. */
  s3: S3Config | undefined;
}

export interface S3Config {
  bucket: string;
  /** Unset: AWS's own endpoint for the region. */
  endpoint: string | undefined;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `endpoint/bucket/key` rather than `bucket.endpoint/key` (MinIO, most self-hosted stores). */
  forcePathStyle: boolean;
}

/** The configuration once the signing key is known: what the application runs with. */
export type AppConfig = Config & { jwtSecret: string };

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `expected ${min} to ${max}, got ${value}`);
  return value;
}

function url(env: Env, name: string, protocols: string[], fallback?: string): string | undefined {
  const raw = read(env, name) ?? fallback;
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.map((p) => p.replace(':', '://')).join(' or ')} URL`);
  }
  return raw;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function origins(env: Env, name: string): string[] {
  const raw = read(env, name);
  if (raw === undefined) return [];
  return raw.split(',').map((part) => {
    const origin = part.trim();
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError(name, `"${origin}" is not an origin such as https://app.example.com`);
    }
    if (!['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigError(name, `"${origin}" is not an origin such as https://app.example.com`);
    }
    return parsed.origin;
  });
}

const MB = 1024 * 1024;

/** S3_BUCKET turns object storage on; the rest of S3_* only means something with it, and the keys have no default. */
function s3(env: Env): S3Config | undefined {
  const bucket = read(env, 'S3_BUCKET');
  const endpoint = url(env, 'S3_ENDPOINT', ['http:', 'https:']);
  if (bucket === undefined) {
    const stray = ['S3_ENDPOINT', 'S3_REGION', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_FORCE_PATH_STYLE'].find(
      (name) => read(env, name) !== undefined,
    );
    if (stray !== undefined) throw new ConfigError(stray, 'is set but S3_BUCKET is not (attachments stay in DATA_DIR)');
    return undefined;
  }
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError('S3_BUCKET', `is not a valid bucket name: "${bucket}"`);
  }
  const required = (name: string) => {
    const value = read(env, name);
    if (value === undefined) throw new ConfigError(name, 'is required when S3_BUCKET is set');
    return value;
  };
  return {
    bucket,
    endpoint,
    region: read(env, 'S3_REGION') ?? 'us-east-1',
    accessKeyId: required('S3_ACCESS_KEY_ID'),
    secretAccessKey: required('S3_SECRET_ACCESS_KEY'),
    forcePathStyle: boolean(env, 'S3_FORCE_PATH_STYLE', false),
  };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const ROLES = ['all', 'api', 'worker'] as const;
const MIN_SECRET_LENGTH = 32;

export function loadConfig(env: Env = process.env): Config {
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const jwtSecret = read(env, 'JWT_SECRET');
  if (jwtSecret !== undefined && jwtSecret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError('JWT_SECRET', `must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (databaseUrl !== undefined && jwtSecret === undefined) {
    throw new ConfigError('JWT_SECRET', 'is required when DATABASE_URL is set');
  }
  const logLevel = read(env, 'LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const emailFrom = read(env, 'EMAIL_FROM') ?? 'tasks@localhost';
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(emailFrom) && !/^[^<>]*<[^\s@<>]+@[^\s@<>]+>$/.test(emailFrom)) {
    throw new ConfigError('EMAIL_FROM', `is not an email address: "${emailFrom}"`);
  }
  const role = read(env, 'ROLE') ?? 'all';
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new ConfigError('ROLE', `expected one of ${ROLES.join(', ')}, got "${role}"`);
  }
  if (role !== 'all' && databaseUrl === undefined) {
    // The embedded database opens in one process only, so an api process would have no worker.
    throw new ConfigError('ROLE', `${role} needs DATABASE_URL; with the embedded database run ROLE=all`);
  }
  const port = integer(env, 'PORT', 8000, 0, 65535);
  const publicUrl = url(env, 'PUBLIC_URL', ['http:', 'https:']);
  return {
    port,
    host: read(env, 'HOST') ?? '0.0.0.0',
    dataDir: path.resolve(read(env, 'DATA_DIR') ?? './data'),
    databaseUrl,
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    jwtSecret,
    notificationDelaySeconds: integer(env, 'NOTIFICATION_DELAY_SECONDS', 10, 0, 86_400),
    notificationRetryDelaySeconds: integer(env, 'NOTIFICATION_RETRY_DELAY_SECONDS', 30, 0, 86_400),
    notificationSendTimeoutSeconds: integer(env, 'NOTIFICATION_SEND_TIMEOUT_SECONDS', 60, 1, 3600),
    jobsMaintenanceIntervalSeconds: integer(env, 'JOBS_MAINTENANCE_INTERVAL_SECONDS', 30, 1, 3600),
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    emailFrom,
    publicUrl: (publicUrl ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    linkOrigin: publicUrl === undefined ? undefined : new URL(publicUrl).origin,
    externalTasksUrl: url(
      env,
      'EXTERNAL_TASKS_URL',
      ['http:', 'https:'],
      'https://jsonplaceholder.typicode.com/todos',
    ) as string,
    externalTasksTimeoutMs: integer(env, 'EXTERNAL_TASKS_TIMEOUT_MS', 3000, 1, 600_000),
    authRateLimit: integer(env, 'AUTH_RATE_LIMIT', 20, 1, 1_000_000),
    rateLimit: integer(env, 'RATE_LIMIT', 600, 1, 1_000_000),
    trustProxy: boolean(env, 'TRUST_PROXY', false),
    metricsToken: read(env, 'METRICS_TOKEN'),
    migrateOnStart: boolean(env, 'MIGRATE_ON_START', true),
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    logLevel: logLevel as Config['logLevel'],
    role: role as Config['role'],
    wsPingIntervalMs: integer(env, 'WS_PING_INTERVAL_SECONDS', 30, 1, 3600) * 1000,
    wsMaxSocketsPerUser: integer(env, 'WS_MAX_SOCKETS_PER_USER', 20, 1, 1_000_000),
    wsMessageRate: integer(env, 'WS_MESSAGE_RATE', 10, 1, 10_000),
    shutdownGraceSeconds: integer(env, 'SHUTDOWN_GRACE_SECONDS', 25, 1, 3600),
    attachmentMaxBytes: integer(env, 'ATTACHMENT_MAX_MB', 25, 1, 5 * 1024) * MB,
    storageQuotaBytes: integer(env, 'STORAGE_QUOTA_MB', 1024, 1, 1024 * 1024 * 1024) * MB,
    s3: s3(env),
    accessTokenTtlSeconds: 15 * 60,
    refreshTokenTtlSeconds: 7 * 24 * 60 * 60,
  };
}

/**
 * Embedded mode keeps a generated signing key in DATA_DIR so tokens survive restarts;
 * with DATABASE_URL the key must come from the environment (checked in loadConfig).
 */
export function resolveJwtSecret(config: Config): AppConfig {
  if (config.jwtSecret !== undefined) return { ...config, jwtSecret: config.jwtSecret };
  const file = path.join(config.dataDir, 'jwt_secret');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length >= MIN_SECRET_LENGTH) return { ...config, jwtSecret: stored };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(config.dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { ...config, jwtSecret: secret };
}
