import { otherParts } from '@dreamcore/runtime-core/conformance';
import { RUN_PARTS, runLocalConformance } from './support/conformance-lane.js';

runLocalConformance(otherParts(RUN_PARTS));
