import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import MailComposer from 'nodemailer/lib/mail-composer';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface Email {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Without the angle brackets; the same on every attempt, so the email is recognisable as one. */
  messageId: string;
}

export interface Delivered {
  /** What the server answered, or where the file went. */
  response: string;
}

/**
 * Called once the receiving side holds the whole message but has not yet been told it is complete.
 * It commits a record that the email is handed over, and calls `complete` (which writes the end of
 * the message) in the same tick as the COMMIT goes out, so a crash cannot separate the two: a worker
 * restarted after it finds the record and does not send the email again. Rejecting without calling
 * `complete` abandons the message, which the server then discards.
 */
export type HandOver = (complete: () => void) => Promise<void>;

/** The message was handed over, then the connection broke before the server answered. */
export class DeliveryUnconfirmed extends Error {}

export interface Mailer {
  deliver(email: Email, handOver: HandOver): Promise<Delivered>;
  close(): void;
}

async function compose(email: Email): Promise<Buffer> {
  return new MailComposer({
    from: email.from,
    to: email.to,
    subject: email.subject,
    text: email.text,
    html: email.html,
    messageId: `<${email.messageId}>`,
  })
    .compile()
    .build();
}

/**
 * A message whose end `complete` writes. nodemailer pipes the message into its dot-escaping
 * stream, once the server has said to go ahead with it (DATA); ending that stream ourselves writes
 * the final dot to the socket before end() returns. Ending through a readable's push(null) would
 * write it ticks later, after the hand-over's COMMIT: a kill in between left a record of an email
 * the server never got.
 */
class HandedOverMessage extends Readable {
  constructor(
    private readonly raw: Buffer,
    private readonly handOver: HandOver,
  ) {
    // Never read: pipe() below writes the message itself. Its errors abandon the send.
    super({ read() {} });
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T): T {
    destination.write(this.raw);
    let completed = false;
    this.handOver(() => {
      completed = true;
      destination.end();
    }).then(
      () => {
        if (!completed) this.destroy(new Error('the hand-over did not complete the message'));
      },
      // Once the end is written the message is the server's, whatever happened to the record.
      (error) => {
        if (!completed) this.destroy(error);
      },
    );
    return destination;
  }
}

/** The address part of `Name <address>` or a bare address: the envelope's sender. */
const envelopeAddress = (from: string) => /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from.trim();

interface SmtpOptions {
  url: string;
  /** Connections kept open to the server; each carries one message at a time. */
  maxConnections: number;
}

/**
 * SMTP with nodemailer's connection, not its pool: the pool resends a message whose connection
 * closed mid-send, which could deliver it twice. Here a message's end (the final dot) is written
 * only after handOver() has committed, so a crash before it leaves the server with an incomplete
 * message it discards, and a crash after it leaves a record that it went.
 */
export class SmtpMailer implements Mailer {
  readonly #options: ReturnType<typeof parseConnectionUrl>;
  readonly #maxConnections: number;
  readonly #idle: SMTPConnection[] = [];
  readonly #waiters: Array<() => void> = [];
  #open = 0;
  #closed = false;

  constructor({ url, maxConnections }: SmtpOptions) {
    this.#options = parseConnectionUrl(url);
    this.#maxConnections = maxConnections;
  }

  async #connect(): Promise<SMTPConnection> {
    const { auth, ...options } = this.#options as ReturnType<typeof parseConnectionUrl> & {
      auth?: { user: string; pass: string };
    };
    const connection = new SMTPConnection({
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      // Well inside the job's timeout, so a stalled server fails the attempt before it is presumed lost.
      socketTimeout: 20_000,
      ...options,
    });
    // A broken idle connection must not throw from the emitter; a send on it fails instead.
    connection.on('error', () => undefined);
    connection.on('end', () => {
      // Closed while idle (by the server, or after socketTimeout): its slot is free again.
      const at = this.#idle.indexOf(connection);
      if (at >= 0) {
        this.#idle.splice(at, 1);
        this.#release(undefined);
      }
    });
    await new Promise<void>((resolve, reject) => {
      connection.once('error', reject);
      connection.connect(() => {
        connection.removeListener('error', reject);
        resolve();
      });
    });
    if (auth?.user) {
      await new Promise<void>((resolve, reject) =>
        connection.login({ user: auth.user, pass: auth.pass }, (error) => (error ? reject(error) : resolve())),
      );
    }
    return connection;
  }

  async #acquire(): Promise<{ connection: SMTPConnection; reused: boolean }> {
    for (;;) {
      if (this.#closed) throw new Error('the mailer is closed');
      const idle = this.#idle.pop();
      if (idle !== undefined) return { connection: idle, reused: true };
      if (this.#open < this.#maxConnections) {
        this.#open += 1;
        try {
          return { connection: await this.#connect(), reused: false };
        } catch (error) {
          this.#release(undefined);
          throw error;
        }
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Returns a healthy connection to the idle list; a broken one (undefined) just frees its slot. */
  #release(connection: SMTPConnection | undefined): void {
    if (connection === undefined) this.#open -= 1;
    else if (this.#closed) {
      this.#open -= 1;
      connection.quit();
    } else this.#idle.push(connection);
    this.#waiters.shift()?.();
  }

  async deliver(email: Email, handOver: HandOver): Promise<Delivered> {
    const raw = await compose(email);
    // An idle connection the server closed fails before anything is handed over: try a fresh one once.
    for (let round = 0; ; round++) {
      const { connection, reused } = await this.#acquire();
      let handedOver = false;
      try {
        const info = await this.#send(connection, email, raw, (complete) =>
          handOver(() => {
            handedOver = true;
            complete();
          }),
        );
        this.#release(connection);
        return { response: info.response };
      } catch (error) {
        connection.close();
        this.#release(undefined);
        const answered = typeof (error as { responseCode?: unknown }).responseCode === 'number';
        if (handedOver && !answered) {
          throw new DeliveryUnconfirmed(`the connection broke after the message was handed over: ${String(error)}`);
        }
        if (!handedOver && !answered && reused && round === 0) continue;
        throw error;
      }
    }
  }

  #send(connection: SMTPConnection, email: Email, raw: Buffer, handOver: HandOver) {
    return new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) => {
      connection.send(
        { from: envelopeAddress(email.from), to: [email.to] },
        new HandedOverMessage(raw, handOver),
        (error, info) => (error ? reject(error) : resolve(info)),
      );
    });
  }

  close(): void {
    this.#closed = true;
    for (const connection of this.#idle.splice(0)) {
      this.#open -= 1;
      connection.quit();
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

/**
 * Without SMTP_URL, emails become .eml files in DATA_DIR/outbox, named by Message-ID: one that is
 * already there was delivered by an earlier attempt and is not written again.
 */
export class OutboxMailer implements Mailer {
  constructor(
    readonly directory: string,
    private readonly log: (details: object, message: string) => void,
  ) {}

  async deliver(email: Email, handOver: HandOver): Promise<Delivered> {
    const file = path.join(this.directory, `${email.messageId.replace(/[^\w.@-]/g, '_')}.eml`);
    if (existsSync(file)) return { response: `already in ${file}` };
    await mkdir(this.directory, { recursive: true });
    const partial = `${file}.partial`;
    await writeFile(partial, await compose(email));
    let complete = false;
    await handOver(() => {
      complete = true;
    });
    if (!complete) throw new Error('the hand-over did not complete the message');
    await rename(partial, file);
    this.log({ to: email.to, subject: email.subject, file }, 'email written to the outbox');
    return { response: `written to ${file}` };
  }

  close(): void {}
}

/** SMTP when SMTP_URL is set, the outbox directory otherwise. */
export function createMailer(
  config: { smtpUrl: string | undefined; dataDir: string },
  log: (details: object, message: string) => void,
): Mailer {
  return config.smtpUrl === undefined
    ? new OutboxMailer(path.join(config.dataDir, 'outbox'), log)
    : new SmtpMailer({ url: config.smtpUrl, maxConnections: 10 });
}
