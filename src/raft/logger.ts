// The core's only way to say something: an injected logger. Silent unless the caller passes one.

export interface RaftLogger {
  debug(msg: string, fields?: object): void;
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

const noop = (): void => {};

export const silentLogger: RaftLogger = { debug: noop, info: noop, warn: noop, error: noop };
