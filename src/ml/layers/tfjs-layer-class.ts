/**
 * tfjs-layers' own layer classes, as registered for deserialisation: the classes the
 * tf.layers factories build, in the bundle @tensorflow/tfjs loads (a deep import of
 * @tensorflow/tfjs-layers/dist would load a second copy). For layers that change how a
 * built-in layer trains while serialising exactly as it does.
 */
import * as tf from '@tensorflow/tfjs';

export function tfjsLayerClass<T>(className: string): new (args: never) => T {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (entry === undefined) throw new Error(`tfjs-layers has no ${className} registered`);
  return entry[0] as unknown as new (args: never) => T;
}
