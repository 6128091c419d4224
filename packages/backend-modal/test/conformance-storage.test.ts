import { runModalConformance, STORAGE_PARTS } from './support/conformance-lane.js';

runModalConformance(STORAGE_PARTS);
