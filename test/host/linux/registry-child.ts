/**
 * A stand-in manager for damon-registry.test.ts: claims a kdamond slot in a
 * kernel tree (a plain directory standing in for DAMON's sysfs), prints the
 * index, holds it until SIGTERM (then gives it back) or SIGKILL (then not).
 *   node registry-child.js ROOT RUN_DIR TARGET_PID
 */
import { claimSlot, DAMON_ADMIN, releaseSlot } from '../../../plugin/host/linux/damon-registry.js';
import { KernelFiles } from '../../../plugin/host/linux/sysfs.js';

const [root, runDir, target] = process.argv.slice(2) as [string, string, string];
const files = new KernelFiles(root);
const options = { files, runDir, slots: 4 };
let claimed: number | undefined;
process.once('SIGTERM', () => {
  const done = () => {
    process.stdout.write('RELEASED\n', () => process.exit(0));
  };
  if (claimed === undefined) done();
  else void releaseSlot(claimed, options).then(done, (err: Error) => {
    process.stderr.write(`release failed: ${err.message}\n`);
    process.exit(2);
  });
});
const { index, reclaimed } = await claimSlot(Number(target), options, async (i) => {
  const k = `${DAMON_ADMIN}/kdamonds/${i}`;
  files.writeText(`${k}/contexts/nr_contexts`, '1');
  files.writeText(`${k}/contexts/0/operations`, 'vaddr');
  files.writeText(`${k}/contexts/0/targets/nr_targets`, '1');
  files.writeText(`${k}/contexts/0/targets/0/pid_target`, target);
  files.writeText(`${k}/state`, 'on');
});
claimed = index;
process.stdout.write(`CLAIMED ${index} ${JSON.stringify(reclaimed)}\n`);
setInterval(() => undefined, 1 << 30);
