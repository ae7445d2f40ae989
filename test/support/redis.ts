export * from '../../tools/processes/redis-server.js';
