import { RUN_PARTS, runModalConformance } from './support/conformance-lane.js';

runModalConformance(RUN_PARTS);
