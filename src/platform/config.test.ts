import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../../test/scratch.ts';
import { ConfigError, loadConfig, resolveJwtSecret } from './config.ts';

describe('configuration', () => {
  it('has the contract’s defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8000,
      databaseUrl: undefined,
      redisUrl: undefined,
      jwtSecret: undefined,
      notificationDelaySeconds: 10,
      smtpUrl: undefined,
      emailFrom: 'tasks@localhost',
      externalTasksUrl: 'https://jsonplaceholder.typicode.com/todos',
      externalTasksTimeoutMs: 3000,
      authRateLimit: 20,
      logLevel: 'info',
      shutdownGraceSeconds: 25,
      wsMaxSocketsPerUser: 20,
      wsMessageRate: 10,
      publicUrl: 'http://localhost:8000',
      linkOrigin: undefined,
      attachmentMaxBytes: 25 * 1024 * 1024,
      storageQuotaBytes: 1024 * 1024 * 1024,
      s3: undefined,
    });
    expect(config.dataDir).toBe(path.resolve('./data'));
  });

  it('takes the origin of links in answers from PUBLIC_URL only when it is set', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://tasks.example.com/app/' })).toMatchObject({
      publicUrl: 'https://tasks.example.com/app',
      linkOrigin: 'https://tasks.example.com',
    });
  });

  it.each([
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://localhost/x'],
    ['REDIS_URL', 'not a url'],
    ['NOTIFICATION_DELAY_SECONDS', '-1'],
    ['SMTP_URL', 'http://mail'],
    ['EMAIL_FROM', 'nobody'],
    ['EXTERNAL_TASKS_URL', 'ftp://feed'],
    ['EXTERNAL_TASKS_TIMEOUT_MS', '0'],
    ['AUTH_RATE_LIMIT', '1.5'],
    ['LOG_LEVEL', 'loud'],
    ['JWT_SECRET', 'short'],
    ['SHUTDOWN_GRACE_SECONDS', '0'],
    ['WS_MAX_SOCKETS_PER_USER', 'many'],
    ['WS_MESSAGE_RATE', '0'],
    ['ATTACHMENT_MAX_MB', '0'],
    ['STORAGE_QUOTA_MB', 'lots'],
    ['S3_ENDPOINT', 'http://minio:9000'],
    ['S3_ACCESS_KEY_ID', 'AKIA'],
  ])('stops on a bad %s naming the variable', (name, value) => {
    const attempt = () => loadConfig({ [name]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(new RegExp(`^${name}: `));
  });

  it('takes object storage from S3_*, whose credentials have no default', () => {
    const s3 = {
      S3_BUCKET: 'tasks-files',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_ACCESS_KEY_ID: 'key',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_FORCE_PATH_STYLE: 'true',
    };
    expect(loadConfig(s3).s3).toEqual({
      bucket: 'tasks-files',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      accessKeyId: 'key',
      secretAccessKey: 'secret',
      forcePathStyle: true,
    });
    expect(() => loadConfig({ ...s3, S3_SECRET_ACCESS_KEY: '' })).toThrow(/^S3_SECRET_ACCESS_KEY: is required/);
    expect(() => loadConfig({ ...s3, S3_BUCKET: 'Bad_Bucket' })).toThrow(/^S3_BUCKET: /);
    expect(() => loadConfig({ ...s3, S3_ENDPOINT: 'ftp://x' })).toThrow(/^S3_ENDPOINT: /);
  });

  it('requires JWT_SECRET with DATABASE_URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://localhost/tasks' })).toThrow(/^JWT_SECRET: .*required/);
    const secret = 'x'.repeat(40);
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/tasks', JWT_SECRET: secret }).jwtSecret).toBe(secret);
  });

  it('generates the embedded signing key once and keeps it in DATA_DIR', () => {
    const dataDir = scratchDir('tasks-config-');
    const first = resolveJwtSecret(loadConfig({ DATA_DIR: dataDir }));
    const second = resolveJwtSecret(loadConfig({ DATA_DIR: dataDir }));
    expect(first.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(second.jwtSecret).toBe(first.jwtSecret);
    const file = path.join(dataDir, 'jwt_secret');
    expect(readFileSync(file, 'utf8').trim()).toBe(first.jwtSecret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});

describe('CORS_ORIGINS', () => {
  it('takes a comma-separated list of origins', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:5173' }).corsOrigins).toEqual([
      'https://a.example',
      'http://localhost:5173',
    ]);
    expect(loadConfig({}).corsOrigins).toEqual([]);
  });

  it.each(['*', 'a.example', 'https://a.example/path', 'ftp://a.example'])('refuses %s', (value) => {
    expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(/^CORS_ORIGINS: /);
  });
});
