// DreamCore's client contract over real HTTP and WebSocket clients, on the local backend.
import { contractCases } from './support/contract-cases.js';

contractCases('local');
