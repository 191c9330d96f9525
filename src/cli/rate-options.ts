// --max-upload-rate / --max-download-rate, shared by `sync` and `watch`.
import { parseRate, RateError } from '../core/rate.js';
import type { RateLimits } from '../client/rate-limit.js';
import { CliError } from './cli-error.js';

const UNITS = 'per second, like 2MB, 500KiB or 10Mbit; 0 = unlimited; overrides the config key';
export const uploadRateOpt = ['--max-upload-rate <rate>', `limit upload bandwidth (${UNITS} max_upload_rate)`] as const;
export const downloadRateOpt = ['--max-download-rate <rate>', `limit download bandwidth (${UNITS} max_download_rate)`] as const;

/** The limits given on the command line (absent = the config decides). Bad input: exit 1 with the reason. */
export function rateFlags(o: { maxUploadRate?: string; maxDownloadRate?: string }): RateLimits {
  const one = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    try {
      return parseRate(v);
    } catch (err) {
      if (err instanceof RateError) throw new CliError(`${flag}: ${err.message}`, 1);
      throw err;
    }
  };
  return { upload: one('--max-upload-rate', o.maxUploadRate), download: one('--max-download-rate', o.maxDownloadRate) };
}
