import { otherParts } from '@dreamcore/runtime-core/conformance';
import { RUN_PARTS, runModalConformance, STORAGE_PARTS } from './support/conformance-lane.js';

runModalConformance(otherParts([...STORAGE_PARTS, ...RUN_PARTS]));
