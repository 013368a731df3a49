"""End-to-end fine-tuning of frame backbones (the ``finetune`` regressor's machinery).

``frames``: decoding in data-loader workers, the memory-mapped frame cache and the network
views (resized frames or FAST-VQA fragments); ``nets``: backbones, temporal module, fusion;
``train``: the training loop (DistributedDataParallel under torchrun, checkpoint and resume);
``ray_train``: the same training on a Ray cluster. torch is imported only when used.
"""
