/**
 * SIEM sinks: every audit event, delivered at least once, in seq order, each with its `id` so a
 * SIEM de-duplicates. The log itself is the outbox: a sink's cursor (the first seq not yet
 * delivered) is stored beside the log and advanced only after the target accepted a batch, so a
 * restart resumes where delivery stopped, and a target that was down receives everything once it
 * is back. Failed batches are retried with exponential backoff and full jitter (AWS Architecture
 * Blog, "Exponential Backoff And Jitter"), between `minBackoffMs` and `maxBackoffMs`.
 *
 * Targets:
 * - `jsonl:<path>`: JSON Lines appended to a file (fsync'd before the cursor moves);
 * - `http(s)://…`: webhook, `POST` of `{"events": [...]}` (application/json), any 2xx accepts;
 * - `syslog+tcp://host:port` or `syslog+tls://host:port`: RFC 5424 messages (glossy) with
 *   octet-counting framing (RFC 6587 §3.4.1); MSGID = event type, structured data
 *   `[bqgate@32473 id seq requestId principal type]`, MSG = the event as JSON.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import glossy from 'glossy';
import type { AuditEvent } from './events.js';
import type { AuditLog } from './log.js';

export interface SinkTarget {
  /** Resolves once the target accepted every event of the batch; throws otherwise. */
  deliver(events: AuditEvent[]): Promise<void>;
  close?(): Promise<void>;
}

export interface SinkOptions { batch?: number; intervalMs?: number; minBackoffMs?: number; maxBackoffMs?: number; onError?: (err: Error) => void }

/** Delivers the log to one target (see the module comment). */
export class SinkRunner {
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  private failures = 0;
  private wake?: () => void;
  /** Consecutive failed attempts so far, the events delivered since start, and the next seq to deliver (-1: not read yet). */
  readonly stats = { delivered: 0, failedAttempts: 0, nextSeq: -1 };

  constructor(private readonly log: AuditLog, readonly name: string, private readonly target: SinkTarget, private readonly o: SinkOptions = {}) {}

  start(): this {
    void this.loop();
    return this;
  }

  /** Asks for a delivery round now (new events were committed). */
  kick(): void { this.wake?.(); }

  private sleep(ms: number) {
    return new Promise<void>((r) => { this.wake = r; this.timer = setTimeout(r, ms); this.timer.unref?.(); }).finally(() => { clearTimeout(this.timer); this.wake = undefined; });
  }

  private async loop() {
    while (!this.stopped) {
      let delivered = 0;
      try {
        delivered = await this.round();
        this.failures = 0;
      } catch (err) {
        this.failures++;
        this.stats.failedAttempts++;
        this.o.onError?.(err as Error);
        const cap = Math.min(this.o.maxBackoffMs ?? 30_000, (this.o.minBackoffMs ?? 250) * 2 ** (this.failures - 1));
        await this.sleep(Math.random() * cap);
        continue;
      }
      if (delivered === 0 && !this.stopped) await this.sleep(this.o.intervalMs ?? 1000);
    }
  }

  /** One batch: lease the cursor, read after it, deliver, advance. Returns the events delivered. */
  private async round(): Promise<number> {
    this.running = true;
    try {
      const lease = await this.log.backend.leaseSink(this.name);
      if (!lease) return 0;
      try {
        this.stats.nextSeq = lease.next;
        const events = await this.log.events({ fromSeq: lease.next, limit: this.o.batch ?? 500 });
        if (!events.length) { await lease.release(); return 0; }
        await this.target.deliver(events);
        await lease.advance(events[events.length - 1].seq + 1);
        this.stats.nextSeq = events[events.length - 1].seq + 1;
        this.stats.delivered += events.length;
        return events.length;
      } catch (err) {
        await lease.release().catch(() => {});
        throw err;
      }
    } finally {
      this.running = false;
    }
  }

  async stop() {
    this.stopped = true;
    this.kick();
    while (this.running) await new Promise((r) => setTimeout(r, 5));
    await this.target.close?.();
  }
}

/** JSON Lines appended to `path`. */
export function jsonlTarget(path: string): SinkTarget {
  return {
    async deliver(events) {
      const fd = openSync(path, 'a', 0o600);
      try {
        writeSync(fd, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** Webhook: POST {"events": [...]}; a non-2xx answer or no answer within `timeoutMs` fails the batch. */
export function webhookTarget(url: string, timeoutMs = 10_000): SinkTarget {
  return {
    async deliver(events) {
      const r = await fetch(url, {
        method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'bqgate-audit-sink' },
        body: JSON.stringify({ events }), signal: AbortSignal.timeout(timeoutMs),
      });
      await r.arrayBuffer();
      if (r.status < 200 || r.status >= 300) throw new Error(`webhook answered ${r.status}`);
    },
  };
}

/** An SD-PARAM value (glossy escapes backslash, double quote and closing bracket, RFC 5424 §6.3.3). */
const sdValue = (v: unknown) => String(v ?? '-');

/** One event as an RFC 5424 message (facility local0; severity warning for denials, else info). */
export function syslogMessage(e: AuditEvent, host = hostname()): string {
  const producer = new glossy.Produce({ type: 'RFC5424', appName: 'bqgate', pid: process.pid, host });
  const denied = e.type === 'decision' && (e.data as { effect?: string }).effect === 'deny';
  const msg = producer.produce({
    facility: 'local0', severity: denied ? 'warn' : 'info', date: new Date(e.ts), msgID: e.type,
    structuredData: { 'bqgate@32473': { id: sdValue(e.id), seq: sdValue(e.seq), requestId: sdValue(e.requestId), principal: sdValue(e.principal), type: sdValue(e.type) } },
    message: JSON.stringify(e),
  });
  if (!msg) throw new Error('syslog message could not be formatted');
  return msg;
}

/** Syslog over TCP or TLS (`tls`), octet-counting framing; a batch is written, then flushed. */
export function syslogTarget(url: string, tlsOptions: { ca?: string; rejectUnauthorized?: boolean } = {}): SinkTarget {
  const u = new URL(url);
  const secure = u.protocol === 'syslog+tls:';
  let sock: Socket | undefined;
  const open = () => new Promise<Socket>((resolve, reject) => {
    const opts = { host: u.hostname, port: Number(u.port || (secure ? 6514 : 601)) };
    const s: Socket = secure ? tlsConnect({ ...opts, servername: u.hostname, ...tlsOptions }, () => resolve(s)) : tcpConnect(opts, () => resolve(s));
    s.once('error', reject);
    s.on('close', () => { if (sock === s) sock = undefined; });
  });
  return {
    async deliver(events) {
      sock ??= await open();
      const s = sock;
      const frames = events.map((e) => { const m = Buffer.from(syslogMessage(e)); return Buffer.concat([Buffer.from(`${m.length} `), m]); });
      await new Promise<void>((resolve, reject) => {
        const fail = (err: Error) => { sock = undefined; s.destroy(); reject(err); };
        s.once('error', fail);
        s.write(Buffer.concat(frames), (err) => { s.off('error', fail); if (err) fail(err); else resolve(); });
      });
    },
    async close() { sock?.end(); },
  };
}

/** A target from its configured address (see the module comment). */
export function sinkTarget(address: string): SinkTarget {
  if (address.startsWith('jsonl:')) return jsonlTarget(address.slice('jsonl:'.length));
  if (/^https?:\/\//.test(address)) return webhookTarget(address);
  if (/^syslog\+(tcp|tls):\/\//.test(address)) return syslogTarget(address);
  throw new Error(`unknown audit sink "${address}" (expected jsonl:PATH, http(s)://…, syslog+tcp://… or syslog+tls://…)`);
}
