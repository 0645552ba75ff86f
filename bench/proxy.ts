/**
 * The baseline the gateway is compared with: a plain pass-through reverse proxy (@fastify/http-proxy,
 * no authentication, analysis or audit) in front of the emulator. Run as its own process by the
 * benchmark: `tsx bench/proxy.ts <listenPort> <upstreamUrl>`; prints `ready` when listening.
 */
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';

const [port, upstream] = process.argv.slice(2);
const app = Fastify({ logger: false });
await app.register(proxy, { upstream });
await app.listen({ port: Number(port), host: '127.0.0.1' });
process.stdout.write('ready\n');
