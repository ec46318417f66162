// Seeds 501..1000 of the deterministic simulation.
import { HALF, simulationSeeds } from './sim-seeds.js';

simulationSeeds(1 + HALF, HALF);
