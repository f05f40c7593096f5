// Writes e2e/fixtures/updraft-0.5-src.tar.gz: the source the previous Updraft (protocol 0.5) built
// the demo from, for the upgrade e2e (e2e/upgrade-0.5.spec.ts). It is committed rather than read
// from git history at test time because a shallow clone (`git clone --depth 1`, common in CI)
// lacks that commit. Run it again only to move the fixture to another commit (and change
// LEGACY_COMMIT in e2e/support/builds.ts to match).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const commit = process.argv[2] ?? '2b5e41f';
const tar = execFileSync('git', ['archive', '--format=tar', commit, '--', 'app', 'plugin', 'protocol', 'sw', 'vite.config.ts', 'package.json', 'tsconfig.json', ':(exclude,glob)**/*.test.ts'], { maxBuffer: 64 << 20 });
const out = 'e2e/fixtures/updraft-0.5-src.tar.gz';
writeFileSync(out, gzipSync(tar, { level: 9 }));
console.log(`${out}: ${commit}, ${tar.byteLength} bytes of tar`);
