/**
 * Whether two objects share one V8 hidden class (`%HaveSameMap`): how a test shows that objects made once per event
 * do not each get a class of their own (runtime-core `eventObject`). Turns on V8's natives syntax for the process the
 * first time it is called; code that does not use it parses as before.
 */
import { setFlagsFromString } from 'node:v8';

let haveSameMap: ((a: object, b: object) => boolean) | null = null;

export function sameHiddenClass(a: object, b: object): boolean {
  if (!haveSameMap) {
    setFlagsFromString('--allow-natives-syntax');
    haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
  }
  return haveSameMap(a, b);
}
