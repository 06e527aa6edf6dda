import net from 'node:net';
import { MalwareScanner, ScanRefusedError, ScannerUnavailableError, ScanSession, ScanVerdict } from './malware-scanner';

export interface ClamdOptions {
  host: string;
  port: number;
  /** Unix socket; used instead of host/port when set. */
  socketPath?: string;
  connectTimeoutMs: number;
  /** Bound on one whole command (a scan: streaming and the verdict). */
  timeoutMs: number;
}

/**
 * Reads one clamd reply (`z`-commands end it with NUL). Exported for unit tests.
 * `stream: OK` → clean; `stream: <name> FOUND` → infected; a size-limit error → refused for good;
 * any other error → the scanner is not usable right now.
 */
export function parseInstreamReply(reply: string): ScanVerdict {
  const text = reply.replace(/\0+$/, '').trim();
  if (/^stream: OK$/.test(text)) return { status: 'clean', engine: 'clamd' };
  const found = /^stream: (.+) FOUND$/.exec(text);
  if (found) return { status: 'infected', engine: 'clamd', signature: found[1] };
  if (/size limit exceeded/i.test(text)) {
    throw new ScanRefusedError('the object is larger than the virus scanner accepts (clamd StreamMaxLength)');
  }
  throw new ScannerUnavailableError(`clamd answered ${JSON.stringify(text.slice(0, 200))}`);
}

/** One TCP/unix connection to clamd carrying one command; every failure becomes `failure`. */
class ClamdConnection {
  private readonly chunks: Buffer[] = [];
  private replyDone = false;
  private failure?: Error;
  private readonly waiters: Array<() => void> = [];
  private timer?: NodeJS.Timeout;

  private constructor(
    private readonly socket: net.Socket,
    private readonly where: string,
  ) {}

  static connect(opts: ClamdOptions): Promise<ClamdConnection> {
    const where = opts.socketPath ? `clamd at ${opts.socketPath}` : `clamd at ${opts.host}:${opts.port}`;
    return new Promise((resolve, reject) => {
      const socket = opts.socketPath ? net.connect({ path: opts.socketPath }) : net.connect({ host: opts.host, port: opts.port });
      const connectTimer = setTimeout(() => {
        socket.destroy();
        reject(new ScannerUnavailableError(`${where} did not accept a connection within ${opts.connectTimeoutMs} ms`));
      }, opts.connectTimeoutMs);
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(connectTimer);
        reject(new ScannerUnavailableError(`${where} is unreachable: ${e.code ?? e.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(connectTimer);
        socket.removeAllListeners('error');
        const conn = new ClamdConnection(socket, where);
        conn.start(opts.timeoutMs);
        resolve(conn);
      });
    });
  }

  private start(timeoutMs: number) {
    this.socket.setNoDelay(true);
    this.timer = setTimeout(() => this.fail(new ScannerUnavailableError(`${this.where} did not finish within ${timeoutMs} ms`)), timeoutMs);
    this.timer.unref();
    this.socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      if (d.includes(0)) this.settleReply();
    });
    this.socket.on('end', () => this.settleReply());
    this.socket.on('error', (e: NodeJS.ErrnoException) =>
      this.fail(new ScannerUnavailableError(`${this.where} broke off: ${e.code ?? e.message}`)),
    );
    this.socket.on('close', () => {
      if (!this.replyDone) this.fail(new ScannerUnavailableError(`${this.where} closed the connection without a reply`));
    });
    this.socket.on('drain', () => this.wake());
  }

  private settleReply() {
    if (this.replyDone) return;
    this.replyDone = true;
    this.wake();
  }

  private fail(e: Error) {
    if (this.failure) return;
    this.failure = e;
    this.socket.destroy();
    this.wake();
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  private waitForChange(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  /** The reply so far (possibly an early error, e.g. a size limit, while we were still sending). */
  reply(): string | undefined {
    return this.replyDone ? Buffer.concat(this.chunks).toString('utf8') : undefined;
  }

  /** Sends `data`, resolving once the socket has room again; stops early when clamd replied or failed. */
  async write(data: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.socket.write(data)) {
      while (this.socket.writableNeedDrain && !this.failure && !this.replyDone) await this.waitForChange();
    }
    if (this.failure && !this.replyDone) throw this.failure as Error; // set while we awaited (TS still narrows it to undefined)
  }

  async readReply(): Promise<string> {
    while (!this.replyDone && !this.failure) await this.waitForChange();
    const reply = this.reply();
    if (reply !== undefined) return reply;
    throw this.failure!; // the loop ends on a reply or a failure
  }

  close() {
    if (this.timer) clearTimeout(this.timer);
    this.socket.destroy();
  }
}

/** INSTREAM: `zINSTREAM\0`, then chunks each prefixed by its length (4 bytes, big-endian), then a zero length. */
class ClamdInstreamSession implements ScanSession {
  constructor(private readonly conn: ClamdConnection) {}

  async write(chunk: Buffer): Promise<void> {
    this.throwIfAnsweredEarly();
    if (!chunk.length) return;
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(chunk.length, 0);
    await this.conn.write(Buffer.concat([header, chunk]));
    this.throwIfAnsweredEarly();
  }

  async finish(): Promise<ScanVerdict> {
    try {
      this.throwIfAnsweredEarly();
      await this.conn.write(Buffer.alloc(4));
      return parseInstreamReply(await this.conn.readReply());
    } finally {
      this.conn.close();
    }
  }

  /** A reply before the stream ended is an error clamd meant (e.g. its size limit): surface that, not the broken pipe. */
  private throwIfAnsweredEarly() {
    const early = this.conn.reply();
    if (early === undefined) return;
    parseInstreamReply(early); // throws for every error reply
    throw new ScannerUnavailableError('clamd gave a verdict before the stream ended');
  }

  abort(): void {
    this.conn.close();
  }
}

/** The clamd scanner: INSTREAM over TCP (or a unix socket), connect and overall timeouts, no client library. */
export class ClamdScanner implements MalwareScanner {
  readonly kind = 'clamd' as const;

  constructor(private readonly opts: ClamdOptions) {}

  async open(): Promise<ScanSession> {
    const conn = await ClamdConnection.connect(this.opts);
    try {
      await conn.write(Buffer.from('zINSTREAM\0'));
    } catch (e) {
      conn.close();
      throw e;
    }
    return new ClamdInstreamSession(conn);
  }

  /** `zVERSION` (e.g. "ClamAV 1.4.6/..."), bounded by the connect timeout twice over. */
  async check(): Promise<string> {
    const conn = await ClamdConnection.connect({ ...this.opts, timeoutMs: Math.max(this.opts.connectTimeoutMs * 2, 1000) });
    try {
      await conn.write(Buffer.from('zVERSION\0'));
      return (await conn.readReply()).replace(/\0+$/, '').trim();
    } finally {
      conn.close();
    }
  }
}
