// What the upscale task checks before it hands an image to ESRGAN, so that the caller hears about
// a factor without weights or an input too large for a CPU run at once, as a whole-task error
// with Runware's codes, instead of after the image has waited for a worker thread.

import { ProtocolError, isProtocolError } from '../protocol/errors.js';
import {
  ESRGAN_FACTORS,
  MAX_NETWORK_PIXELS,
  esrganSizes,
  type EsrganFactor,
} from '../engines/builtin/ops/upscale-esrgan.js';

/** Throws ProtocolError unless ESRGAN can take `factor` and an upright input of this size. */
export function checkEsrganInput(
  factor: number,
  upright: { width: number; height: number },
  parameter: string,
): asserts factor is EsrganFactor {
  if (!(ESRGAN_FACTORS as readonly number[]).includes(factor)) {
    throw new ProtocolError(
      'invalidUpscaleFactor',
      {
        parameter: 'upscaleFactor',
        reason: `The ESRGAN upscaler enlarges by ${ESRGAN_FACTORS.join(' or ')}; factor ${factor} needs the Lanczos model (runtrail:lanczos@3).`,
      },
      { parameter: 'upscaleFactor', type: 'integer', allowedValues: ESRGAN_FACTORS },
    );
  }
  const { networkInput } = esrganSizes(upright.width, upright.height, factor as EsrganFactor);
  const pixels = networkInput.width * networkInput.height;
  if (pixels > MAX_NETWORK_PIXELS) {
    throw new ProtocolError(
      'invalidInputImage',
      {
        parameter,
        reason: `The image is ${networkInput.width}×${networkInput.height} (${pixels} pixels); the ESRGAN upscaler takes at most ${MAX_NETWORK_PIXELS} pixels (512×512) on this server's CPU. Shrink it first, or use the Lanczos model (runtrail:lanczos@3).`,
      },
      { parameter, type: 'string', max: MAX_NETWORK_PIXELS },
    );
  }
}

/** An operation's error about the input image, with `parameter` as the caller named it (inputImage or inputs.image). */
export function namedAs(err: unknown, parameter: string): unknown {
  if (isProtocolError(err) && err.details.parameter === 'inputImage' && parameter !== 'inputImage') {
    return ProtocolError.relayed(err.code, err.message.replace("'inputImage'", `'${parameter}'`), {
      ...err.details,
      parameter,
    });
  }
  return err;
}
