export { checkNodes, type EngineDown, type NodeMonitorInput, type NodeMonitorDecision } from './monitor.js';
