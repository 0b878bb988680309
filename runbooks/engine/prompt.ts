import readline from 'node:readline/promises';
import { ConfirmationRequiredError } from './errors';

export interface ConfirmRequest {
  /** What is about to happen, e.g. "restore in place (drops every table)". */
  action: string;
  /** The name the operator must type, e.g. the database or service name. */
  target: string;
}

/**
 * Destructive steps ask the operator to type the target's name. With --yes
 * the answer is given; without a terminal there is nobody to ask, so refuse.
 */
export async function confirmDestructive(request: ConfirmRequest, opts: { yes: boolean }): Promise<void> {
  if (opts.yes) return;
  if (!process.stdin.isTTY) {
    throw new ConfirmationRequiredError(
      `refusing to ${request.action} on "${request.target}": no terminal to confirm on; re-run with --yes`,
      { target: request.target },
    );
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`\nAbout to ${request.action} on "${request.target}".\nType the target name to continue: `);
    if (answer.trim() !== request.target) {
      throw new ConfirmationRequiredError(`confirmation did not match "${request.target}"; nothing was changed`);
    }
  } finally {
    rl.close();
  }
}
