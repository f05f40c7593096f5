// `npm start`: builds the demo PWA, starts `updraft serve` on the embedded SQLite store under
// .updraft/ with plans signed by a key kept there (the build trusts it), publishes the build to the `stable` channel and prints the URL.
import { startServer, publishDirectory } from '../server/index.js';
import { DATA, buildDemo, demoKeys, demoToken, demoVersion, saveServerUrl } from './demo-common.js';

const port = Number(process.env.PORT ?? 8787);
const token = demoToken();
const version = demoVersion();
const dist = await buildDemo(version);

// Short intervals so a person sees an update arrive within a minute: production keeps the defaults.
const { signer } = await demoKeys();
const server = await startServer({ port, dataDir: DATA, token, signer, checkInInterval: 20, spreadMs: 3_000 }).catch((err: NodeJS.ErrnoException) => {
  console.error(err.code === 'EADDRINUSE' ? `updraft: listen: port ${port} is taken (set PORT=...)` : `updraft: listen: ${err.message}`);
  process.exit(1);
});
saveServerUrl(server.url);
const published = await publishDirectory(dist, { server: server.url, token, channel: 'stable' });

console.log(`
  Updraft demo: ${server.url}
  release ${published.id} (version ${version}) on channel "stable", store in .updraft/data
  plans signed with .updraft/signing.key; the build's worker trusts only .updraft/signing.pub

  Open it in Chromium, then in another terminal run  npm run demo:release
  to publish the next version: the open tab downloads it in the background, says so in a toast,
  and the next reload shows it (also offline). Admin token: .updraft/token. Ctrl-C to stop.
`);

const stop = async () => {
  await server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
