/** Task queues shared by clients and workers. */
export const CPU_QUEUE = 'vision-cpu';
export const GPU_QUEUE = 'vision-gpu';
export const TASK_QUEUES = [CPU_QUEUE, GPU_QUEUE] as const;
export type TaskQueue = (typeof TASK_QUEUES)[number];
