n = torch.cuda.device_count()
