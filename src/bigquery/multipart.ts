/**
 * `multipart/related` bodies of the media upload endpoint
 * (https://cloud.google.com/bigquery/docs/reference/api-uploads#multipart): the Job resource
 * (JSON), then the file. Read by the emulator and the gateway, written by the gateway.
 */
import { randomBytes } from 'node:crypto';
import { BigQueryError } from './errors.js';

/** The parts of a `multipart/related` body: each part's headers (lower-cased) and bytes. Throws invalid when malformed. */
export function multipartParts(body: Buffer, contentType: string | undefined): Array<{ headers: Record<string, string>; body: Buffer }> {
  const m = String(contentType ?? '').match(/boundary="?([^";]+)"?/i);
  if (!m) throw new BigQueryError('invalid', 'A multipart upload needs Content-Type: multipart/related; boundary=….');
  const delim = Buffer.from(`--${m[1]}`);
  const parts: Array<{ headers: Record<string, string>; body: Buffer }> = [];
  let at = body.indexOf(delim);
  while (at >= 0) {
    let start = at + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    if (body.subarray(start, start + 2).toString() === '\r\n') start += 2; else if (body[start] === 0x0a) start += 1;
    const next = body.indexOf(delim, start);
    if (next < 0) throw new BigQueryError('invalid', 'Malformed multipart upload: no closing boundary.');
    let end = next;
    if (body[end - 1] === 0x0a) end--;
    if (body[end - 1] === 0x0d) end--;
    const part = body.subarray(start, end);
    let sep = part.indexOf('\r\n\r\n');
    let skip = 4;
    if (sep < 0) { sep = part.indexOf('\n\n'); skip = 2; }
    if (sep < 0) throw new BigQueryError('invalid', 'Malformed multipart upload: a part has no header block.');
    const headers: Record<string, string> = {};
    for (const line of part.subarray(0, sep).toString('utf8').split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: part.subarray(sep + skip) });
    at = next;
  }
  return parts;
}

/**
 * A `multipart/related` body of `json` (the Job resource) and `media` (the file, as `mediaType`);
 * returns the bytes and the Content-Type (with its random boundary).
 */
export function multipartBody(json: unknown, media: Buffer, mediaType = 'application/octet-stream'): { data: Buffer; contentType: string } {
  const boundary = `bqgate_${randomBytes(12).toString('hex')}`;
  const head = `--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify(json)}\r\n--${boundary}\r\nContent-Type: ${mediaType}\r\n\r\n`;
  return { data: Buffer.concat([Buffer.from(head), media, Buffer.from(`\r\n--${boundary}--\r\n`)]), contentType: `multipart/related; boundary=${boundary}` };
}
