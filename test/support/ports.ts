export * from '../../tools/processes/ports.js';
