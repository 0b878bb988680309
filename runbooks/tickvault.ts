/**
 * The operator's single entry point:
 *   tickvault <runbook> <command> [flags]
 *   tickvault completion bash|zsh
 * Each runbook keeps its own entry file (`npx tsx runbooks/<name>.ts` still
 * works); this only picks one and hands it the rest of argv.
 */
import { describeRunbooks } from './engine/cli';
import { didYouMean } from './engine/suggest';
import { completionScript } from './cli/completion';
import { RUNBOOK_NAMES, RUNBOOKS, type RunbookName } from './cli/runbooks';

const usage = `Usage: tickvault <runbook> [command] [flags]

${RUNBOOK_NAMES.map((name) => `  ${name.padEnd(10)} ${RUNBOOKS[name].summary}`).join('\n')}

  completion bash|zsh   print a shell completion script
                        (bash: source <(tickvault completion bash))

tickvault <runbook> --help shows a runbook's commands and flags.
Exit codes: 0 ok · 1 failed · 2 usage/config · 3 verification or RTO/RPO missed · 4 refused
`;

const [first, ...rest] = process.argv.slice(2);

if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
  (first === undefined ? process.stderr : process.stdout).write(usage);
  process.exitCode = first === undefined ? 2 : 0;
} else if (first === 'completion') {
  const shell = rest[0];
  if (shell !== 'bash' && shell !== 'zsh') {
    process.stderr.write(`tickvault completion: choose bash or zsh\n`);
    process.exitCode = 2;
  } else {
    const specs = await describeRunbooks(() => Promise.all(RUNBOOK_NAMES.map((name) => RUNBOOKS[name].load())));
    process.stdout.write(completionScript(shell, specs));
  }
} else if (first in RUNBOOKS) {
  process.argv = [process.argv[0]!, `tickvault-${first}`, ...rest];
  await RUNBOOKS[first as RunbookName].load();
  endDespiteOpenHandles();
} else {
  const json = rest.includes('--json');
  const message = `unknown runbook "${first}"${didYouMean(first, [...RUNBOOK_NAMES, 'completion'])}; expected one of: ${RUNBOOK_NAMES.join(', ')}`;
  if (json) process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), run: null, runbook: 'tickvault', event: 'summary', ok: false, exitCode: 2, error: { code: 'TV_USAGE', message } })}\n`);
  else process.stderr.write(`tickvault: ${message}\n\n${usage}`);
  process.exitCode = 2;
}

/**
 * The run is over and its summary written. Something left open on an error
 * path (a connection, a timer) would keep Node alive after FAILED, and the
 * operator waiting: end anyway, with the run's exit code, and say so. The
 * timer is unref'd: a clean run exits at once, as before.
 */
function endDespiteOpenHandles(): void {
  const ms = Number(process.env.TICKVAULT_LINGER_MS) || 10_000; // unset, 0 or not a number: the default
  if (process.env.TICKVAULT_TEST_LEAK_HANDLE) setInterval(() => undefined, 60_000); // tests: an open handle
  setTimeout(() => {
    process.stderr.write(`tickvault: still running ${ms / 1000} s after the summary (a handle was left open: a bug, please report it); exiting with code ${process.exitCode ?? 0}\n`);
    process.exit();
  }, ms).unref();
}
