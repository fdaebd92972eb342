// Starts one RADOS Gateway (test/helpers/radosgw.ts) for a whole test run and keeps it up until
// SIGTERM: prints the RUNTRAIL_TEST_S3_* lines for the suites to a file, as shell assignments.
// Usage (.ci/run): node dist/test/helpers/radosgw-serve.js <env file> &

import { writeFileSync } from 'node:fs';
import { startRadosgw } from './radosgw.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: radosgw-serve.js <env file>');
const started = Date.now();
const gateway = await startRadosgw();
writeFileSync(
  file,
  `export RUNTRAIL_TEST_S3_ENDPOINT=${gateway.endpoint}\nexport RUNTRAIL_TEST_S3_ACCESS_KEY=${gateway.accessKeyId}\n` +
    `export RUNTRAIL_TEST_S3_SECRET_KEY=${gateway.secretAccessKey}\n`,
);
process.stdout.write(`radosgw up at ${gateway.endpoint} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
const stop = () => {
  void gateway.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
