/**
 * SIEM sinks (src/audit/sinks.ts): the webhook delivers every event exactly once after the
 * receiver was down for a while, across a gateway restart (the log is the outbox); JSON Lines and
 * RFC 5424 syslog over TCP carry every event with its id.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import glossy from 'glossy';
import { AuditLog, SinkRunner, jsonlTarget, syslogTarget, type AuditEvent } from '../src/audit/index.ts';
import { startGateway, freePort } from './helpers/gateway.ts';

const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'bqgate-sink-')); dirs.push(d); return d; };
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const until = async (cond: () => boolean | Promise<boolean>, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) { if (Date.now() > end) throw new Error('timed out'); await new Promise((r) => setTimeout(r, 50)); }
};

/** A webhook receiver on `port` that records every event it accepts (ids may repeat if we re-send). */
function receiver(port: number) {
  const got: AuditEvent[] = [];
  let batches = 0;
  const server: Server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { batches++; got.push(...JSON.parse(body).events); res.writeHead(204).end(); });
  });
  return {
    got, batches: () => batches,
    listen: () => new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r())),
    close: () => new Promise<void>((r, j) => { server.closeAllConnections(); server.close((e) => (e ? j(e) : r())); }),
  };
}

describe('webhook sink', () => {
  it('delivers every event exactly once after the receiver was down, across a gateway restart', async () => {
    const port = await freePort();
    const env = { BQGATE_AUDIT_SINKS: `http://127.0.0.1:${port}/audit` };
    const logSize = async (dataDir: string) => { const l = await AuditLog.open(dataDir, { readOnly: true }); try { return await l.size(); } finally { await l.close(); } };
    const rx = receiver(port);
    await rx.listen();
    let gw = await startGateway({ env });
    const query = async (n: number) => gw.sdk(await gw.token({ sub: 'siem-test', groups: ['analysts'] })).query({ query: `SELECT ${n} AS n`, useLegacySql: false });
    try {
      // Receiver up: delivered as they come.
      await query(1);
      await query(2);
      await until(async () => rx.got.length >= await logSize(gw.dataDir));
      // Receiver down for a while, and the gateway restarted meanwhile: events wait in the log.
      await rx.close();
      await query(3);
      await gw.stop();
      gw = await startGateway({ env, dataDir: gw.dataDir });
      await query(4);
      await new Promise((r) => setTimeout(r, 1500)); // failed attempts, backing off
      const before = rx.got.length;
      await rx.listen();
      const size = await logSize(gw.dataDir);
      await until(() => rx.got.length >= size);
      await new Promise((r) => setTimeout(r, 1500)); // nothing more may arrive
      expect(before).toBeGreaterThan(0);
      const ids = rx.got.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length); // exactly once: no duplicates, across the restart
      expect(rx.got.map((e) => e.seq)).toEqual(Array.from({ length: size }, (_, i) => i)); // every event, in order
      expect(rx.got.filter((e) => e.type === 'request' && e.principal === 'siem-test' && (e.data as { operation: string }).operation === 'jobs.query').length).toBe(4);
    } finally {
      await gw.stop();
      await rx.close().catch(() => {});
    }
  }, 120_000);
});

describe('JSON Lines and syslog sinks', () => {
  it('write every event with its id; syslog as RFC 5424 with octet-counting framing', async () => {
    const log = await AuditLog.open(tmp());
    for (let i = 0; i < 5; i++) await log.append([{ type: 'request', requestId: `r${i}`, principal: 'p "q"]', issuer: 'i', data: { i } }]);
    await log.append([{ type: 'decision', requestId: 'r4', principal: 'p', issuer: 'i', data: { effect: 'deny' } }]);

    const file = join(tmp(), 'audit.jsonl');
    const jsonl = new SinkRunner(log, 'file', jsonlTarget(file), { intervalMs: 50 }).start();

    const frames: string[] = [];
    let buf = Buffer.alloc(0);
    const tcp = createTcpServer((s) => s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) { // octet counting: "LEN SP MSG"
        const sp = buf.indexOf(0x20);
        if (sp < 0) break;
        const len = Number(buf.subarray(0, sp).toString());
        if (buf.length < sp + 1 + len) break;
        frames.push(buf.subarray(sp + 1, sp + 1 + len).toString());
        buf = buf.subarray(sp + 1 + len);
      }
    }));
    const port = await freePort();
    await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
    const syslog = new SinkRunner(log, 'syslog', syslogTarget(`syslog+tcp://127.0.0.1:${port}`), { intervalMs: 50 }).start();
    try {
      await until(() => frames.length === 6);
      await until(() => { try { return readFileSync(file, 'utf8').trim().split('\n').length === 6; } catch { return false; } });
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5]);
      const parsed = frames.map((f) => glossy.Parse.parse(f) as any);
      expect(frames[0]).toMatch(/^<134>1 \S+ \S+ bqgate \d+ request \[bqgate@32473 /); // local0.info
      expect(frames[5]).toMatch(/^<132>1 /); // local0.warning for a denial
      expect(frames[0]).toContain('principal="p \\"q\\"\\]"'); // SD-PARAM escaping
      expect(parsed.map((p) => JSON.parse(p.message).id)).toEqual(lines.map((e) => e.id));
    } finally {
      await jsonl.stop();
      await syslog.stop();
      tcp.close();
      await log.close();
    }
  });
});
