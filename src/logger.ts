// Structured logs (pino, JSON lines on stderr so stdout stays free for tools), and the
// small adapter the Raft core expects: (msg, fields) instead of pino's (fields, msg).

import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogFormat, LogLevel } from './config.ts';

export type { Logger };

export interface CoreLogger {
  debug(msg: string, fields?: object): void;
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

/** `self` names the process in every line: a node's id, or 'gateway'. */
export function createLogger(level: LogLevel, self: number | 'gateway', format: LogFormat = 'json'): Logger {
  // Synchronous writes: a fatal error is followed by process.exit, and its line must get out.
  const destination =
    format === 'pretty'
      ? pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', singleLine: true })
      : pino.destination({ fd: 2, sync: true });
  return pino({ level, base: { self } }, destination);
}

export function coreLogger(log: Logger): CoreLogger {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, fields?: object): void => {
      if (fields === undefined) log[level](msg);
      else log[level](fields, msg);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
