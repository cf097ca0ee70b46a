import { LoggerService } from '@nestjs/common';
import * as fs from 'node:fs';
import pino, { Logger } from 'pino';

/** bytes of log lines kept while stdout's reader does not keep up; later lines are dropped */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/** Writes to stderr now, or not at all (stderr may be gone too); never throws. */
export function writeStderr(text: string): void {
  try {
    fs.writeSync(2, text);
  } catch {
    // nowhere left to say it
  }
}

/**
 * stdout as the log's destination: pino's sonic-boom, writing each line synchronously (the
 * node logs lifecycle events, not requests, so a write per line costs little).
 *
 * Not pino's default asynchronous destination: that one flushes at exit with sonic-boom's
 * flushSync, which retries a failed write every 100 ms for ever unless the error is EAGAIN, so
 * with stdout's reader gone (EPIPE) `process.exit` never returned and a SIGTERM never ended the
 * process. A synchronous destination has nothing left to flush at exit, and a failed write is
 * an 'error' event at once:
 * - EAGAIN / EBUSY (a non-blocking stdout whose reader is slow): the line stays queued and goes
 *   out before the next one, up to MAX_QUEUED_BYTES; nothing sleeps in the event loop;
 * - anything else (EPIPE: the reader went away; EBADF, EIO): logging stops for good, said once
 *   on stderr, and the node serves on.
 */
export function stdoutDestination(fd = 1): pino.DestinationStream {
  const dest = pino.destination({ dest: fd, sync: true, maxLength: MAX_QUEUED_BYTES, retryEAGAIN: () => false });
  let stopped = false;
  dest.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EAGAIN' || err.code === 'EBUSY' || stopped) return;
    stopped = true;
    // pino does the same for EPIPE; for any other error its own handler is gone by now
    dest.write = () => true;
    dest.flushSync = () => undefined;
    writeStderr(`log: writing to stdout failed (${err.code ?? err.message}); logging to stdout stopped, the node goes on\n`);
  });
  return dest;
}

/** The process logger: JSON lines on stdout (pino); level from config `log.level`. */
export const rootLogger: Logger = pino({ level: process.env.GATEWAY_LOG_LEVEL ?? 'info', base: { pid: process.pid } }, stdoutDestination());

export function setLogLevel(level: string): void {
  rootLogger.level = level;
}

export function logger(component: string): Logger {
  return rootLogger.child({ c: component });
}

/** Routes Nest's own logging into pino so one stream carries everything. */
export class PinoNestLogger implements LoggerService {
  private readonly out = logger('nest');
  log(message: unknown, context?: string) {
    this.out.debug({ ctx: context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.out.error({ ctx: context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.out.warn({ ctx: context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.out.debug({ ctx: context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.out.trace({ ctx: context }, String(message));
  }
}
