// Where a single-image task finds its input (`inputs.image`, or the legacy root `inputImage`),
// and how an operation's refusal of that image becomes the caller's error about that parameter.

import { ProtocolError, invalidCode, isProtocolError } from '../protocol/errors.js';

/** The input image parameter and its value; missingInputImage when neither is given. */
export function imageInputOf(p: { inputImage?: string; inputs?: { image?: string } }): {
  parameter: string;
  source: string;
} {
  if (p.inputs?.image !== undefined) return { parameter: 'inputs.image', source: p.inputs.image };
  if (p.inputImage !== undefined) return { parameter: 'inputImage', source: p.inputImage };
  throw new ProtocolError(
    'missingInputImage',
    { parameter: 'inputs.image', hint: "The legacy 'inputImage' is accepted instead." },
    {
      parameter: 'inputs.image',
      type: 'string',
    },
  );
}

/**
 * Operations know nothing of parameter names: they refuse an image with `invalidImage` (cannot be
 * decoded) or `unsupportedDimensions` (too large). Both become errors naming the parameter the
 * image came in; anything else passes through unchanged.
 */
export function operationErrorFor(err: unknown, parameter: string): unknown {
  if (!isProtocolError(err) || err.details.parameter !== undefined) return err;
  if (err.code === 'invalidImage') {
    const name = parameter.split('.').pop() ?? parameter;
    return new ProtocolError(invalidCode(name), { parameter, reason: err.message }, { parameter, type: 'string' });
  }
  if (err.code === 'unsupportedDimensions')
    return ProtocolError.relayed(err.code, err.message, { parameter, type: 'string' });
  return err;
}
