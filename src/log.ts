import { pino } from 'pino';

/** JSON lines on stdout; the level is set from the configuration at start. */
export const logger = pino({ base: undefined, level: process.env.MODELGATE_LOG_LEVEL ?? 'info' });
