"""durable-vision's PyTorch engine: a child process the TypeScript adapter (src/ml/torch-engine.ts)
drives over line-delimited JSON on stdin/stdout. See protocol.py for the messages."""
