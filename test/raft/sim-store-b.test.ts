// The second half of the store simulation's seeds (the first: sim-store.test.ts).
import { STORE_HALF, storeSimulationSeeds } from './sim-store-seeds.js';

storeSimulationSeeds(1 + STORE_HALF, STORE_HALF);
