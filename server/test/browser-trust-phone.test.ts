import { issue18InTheBrowser } from './support/trust-cases.js';

issue18InTheBrowser(['phone']);
