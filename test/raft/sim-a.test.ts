// Seeds 1..500 of the deterministic simulation.
import { HALF, simulationSeeds } from './sim-seeds.js';

simulationSeeds(1, HALF);
