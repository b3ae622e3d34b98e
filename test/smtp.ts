import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { until } from './timing.ts';

export interface ReceivedEmail {
  messageId: string;
  to: string[];
  subject: string;
  raw: string;
  /** The raw message with quoted-printable undone, to look for text in either part. */
  decoded: string;
  receivedAt: number;
}

const decodeQuotedPrintable = (raw: string) =>
  Buffer.from(
    raw
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');

/** RFC 2047 encoded words (=?UTF-8?Q?...?= or ?B?), as mail clients show them. */
const decodeWords = (value: string) =>
  value.replace(/\?=\s+=\?/g, '?==?').replace(/=\?[^?]+\?([QqBb])\?([^?]*)\?=/g, (_, encoding: string, text: string) =>
    encoding.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(
          text
            .replace(/_/g, ' ')
            .replace(/=([0-9A-F]{2})/gi, (__, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
          'latin1',
        ).toString('utf8'),
  );

/** Headers of a received message, unfolded, by lower-case name. */
function headerOf(raw: string, name: string): string {
  const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const line = unfolded.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name}:`));
  return line === undefined ? '' : line.slice(name.length + 1).trim();
}

/**
 * A real SMTP server in the test process (the smtp-server package) that keeps what it accepts.
 * It can refuse messages, to test retries, and hold its answer, to crash a sender mid-send.
 */
export class SmtpSink {
  readonly received: ReceivedEmail[] = [];
  /** Messages still to refuse with a temporary error; Infinity refuses all. */
  failures = 0;
  /** Milliseconds to wait before answering each message. */
  answerDelayMs = 0;
  #server: SMTPServer;
  port = 0;

  constructor() {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const answer = () => {
            if (this.failures > 0) {
              this.failures -= 1;
              const error = new Error('Mailbox temporarily unavailable') as Error & { responseCode: number };
              error.responseCode = 451;
              callback(error);
              return;
            }
            const raw = Buffer.concat(chunks).toString('utf8');
            this.received.push({
              messageId: headerOf(raw, 'message-id').replace(/[<>]/g, ''),
              to: session.envelope.rcptTo.map((r) => r.address),
              subject: decodeWords(headerOf(raw, 'subject')),
              raw,
              decoded: decodeQuotedPrintable(raw),
              receivedAt: Date.now(),
            });
            callback(null, 'Queued');
          };
          if (this.answerDelayMs > 0) setTimeout(answer, this.answerDelayMs);
          else answer();
        });
      },
    });
    // A client killed mid-conversation resets its connection; that is what some tests do.
    this.#server.on('error', () => undefined);
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = this.#server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  to(address: string): ReceivedEmail[] {
    return this.received.filter((m) => m.to.includes(address));
  }

  async waitFor(predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
    await until(predicate, timeoutMs).catch((error: Error) => {
      throw new Error(`${error.message}; received ${this.received.length} email(s)`);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
