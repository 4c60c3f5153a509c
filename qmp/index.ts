/** Public API of hmmv's QMP client. */
export { QmpClient } from './client.js';
export type { ExecuteOptions, QmpClientOptions, QmpClientState, ReconnectOptions, WaitForEventOptions } from './client.js';
export { QmpCommands } from './commands.js';
export type { CalcDirtyRateOptions, GuestRamLayout } from './commands.js';
export {
  HmpParseError,
  QmpClientError,
  QmpClosedError,
  QmpCommandMissingError,
  QmpConnectError,
  QmpError,
  QmpEventTimeoutError,
  QmpGreetingTimeoutError,
  QmpProtocolError,
  QmpTimeoutError,
} from './errors.js';
export { DEFAULT_MAX_MESSAGE_BYTES, LineSplitter } from './framing.js';
export {
  buildGuestRamMap,
  findFlatView,
  lookupGuestRam,
  parseGpa2hva,
  parseInfoMtreeFlat,
  parseInfoNuma,
  parseInfoRamblock,
  ramBlockForRegion,
} from './hmp-parsers.js';
export type { FlatRange, FlatView, Gpa2HvaResult, GuestRamRange, NumaNodeInfo, RamBlockInfo } from './hmp-parsers.js';
export type * from './qapi-types.js';
export { describeAddress, formatVersion } from './types.js';
export type { QmpAddress, QmpEvent, QmpGreeting, QmpVersionInfo } from './types.js';
