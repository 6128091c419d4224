import { otherParts } from '@dreamcore/runtime-core/conformance';
import { runModalConformance, STORAGE_PARTS } from './support/conformance-lane.js';

runModalConformance(otherParts(STORAGE_PARTS));
