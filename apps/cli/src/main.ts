#!/usr/bin/env node
/**
 * `media`: the command-line client (Nest-free; uses @app/sdk). Exit codes: 0 ok, 1 failure, 2 usage error, 130 Ctrl-C.
 * Errors are one line on stderr: the service's problem message.
 */
import { CommanderError } from 'commander';
import { MediaApiError } from '@app/sdk';
import { buildProgram, FailuresReported, UsageError } from './cli-program';

async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    controller.abort();
    // Whatever does not stop at the abort (a stuck write), the process still ends promptly.
    setTimeout(() => {
      process.stderr.write('media: interrupted\n');
      process.exit(130);
    }, 3000).unref();
  });
  const program = buildProgram({ signal: controller.signal, out: (line) => process.stdout.write(`${line}\n`) });
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (interrupted) {
      process.stderr.write('media: interrupted\n');
      return 130;
    }
    if (e instanceof CommanderError) {
      // Commander printed the message already; help and version are not errors.
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`media: ${e.message}\n`);
      return 2;
    }
    if (e instanceof FailuresReported) return 1;
    const message = e instanceof MediaApiError ? e.problem.message : e instanceof Error ? e.message : String(e);
    process.stderr.write(`media: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    return 1;
  }
}

// Exit at once (keep-alive sockets would hold the process open); stdout/stderr writes are synchronous on pipes and files.
void main(process.argv).then((code) => process.exit(code));
