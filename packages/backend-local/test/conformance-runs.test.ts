import { RUN_PARTS, runLocalConformance } from './support/conformance-lane.js';

runLocalConformance(RUN_PARTS);
