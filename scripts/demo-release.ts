// `npm run demo:release`: builds the next version of the demo and publishes it to the server that
// `npm start` runs, so an open tab receives it.
import { publishDirectory } from '../server/index.js';
import { buildDemo, demoToken, demoVersion, saveDemoVersion, serverUrl } from './demo-common.js';

const [major, minor] = demoVersion().split('.').map(Number);
const next = process.argv[2] ?? `${major}.${(minor ?? 0) + 1}.0`;
const server = serverUrl();
const dist = await buildDemo(next);
try {
  const published = await publishDirectory(dist, { server, token: demoToken(), channel: 'stable' });
  saveDemoVersion(next);
  console.log(`published release ${published.id} (version ${next}, ${published.uploaded} new parts, ${published.bytes} bytes) to ${server}`);
  console.log('An open tab picks it up at its next check-in (within ~20 s) or when you press "Check for updates".');
} catch (err) {
  const e = err as { code?: string; message: string };
  console.error(`updraft: ${e.code ?? 'error'}: ${e.message}`);
  process.exit(1);
}
