import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/** The process logger: JSON lines on stdout (pino); level from config `log.level`. */
export const rootLogger: Logger = pino({ level: process.env.GATEWAY_LOG_LEVEL ?? 'info', base: { pid: process.pid } });

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
