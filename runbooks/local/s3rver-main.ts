/**
 * The local S3-protocol endpoint: s3rver serving a directory on loopback.
 * Started detached by `local.ts up`; stopped by pid on `down`.
 */
import S3rver from 's3rver';

const [port, directory, ...buckets] = process.argv.slice(2);
if (!port || !directory) {
  process.stderr.write('usage: s3rver-main <port> <directory> [bucket ...]\n');
  process.exit(2);
}

const server = new S3rver({
  port: Number(port),
  address: '127.0.0.1',
  directory,
  silent: true,
  configureBuckets: buckets.map((name) => ({ name })),
});

await server.run();
process.stdout.write(`s3rver listening on 127.0.0.1:${port}\n`);
// Exit promptly even if a client keeps a connection open.
const stop = () => {
  setTimeout(() => process.exit(0), 300).unref();
  void server.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
