"""The seed notebook's CNN and ViT classes, transcribed from ../shared/seed for the state-dict test.

Only what defines parameter names and shapes is kept (the plotting helpers are dropped). A state
dict saved from these classes must load into reportgen's models with strict=True, and back.
"""

import torch
import torch.nn as nn


class ResBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, stride=stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x):
        residual = x
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.bn2(self.conv2(x))
        x += self.shortcut(residual)
        return self.relu(x)


class CNN(nn.Module):
    def __init__(self, dropout_prob=0.1):
        super().__init__()
        self.whiten = nn.BatchNorm2d(3, affine=True, track_running_stats=True)
        self.features = nn.Sequential(
            ResBlock(3, 32), nn.MaxPool2d(2), nn.Dropout(dropout_prob),
            ResBlock(32, 64), nn.MaxPool2d(2), nn.Dropout(dropout_prob),
            ResBlock(64, 128), nn.MaxPool2d(2), nn.Dropout(dropout_prob),
        )
        self.classifier = nn.Sequential(nn.Linear(128 * 4 * 4, 512), nn.ReLU(), nn.Dropout(dropout_prob),
                                        nn.Linear(512, 10))

    def forward(self, x):
        x = self.features(self.whiten(x))
        return self.classifier(x.view(x.size(0), -1))


class PatchEmbedding(nn.Module):
    def __init__(self, img_size=32, patch_size=4, in_channels=3, embed_dim=128):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)
        num_patches = (img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, embed_dim))

    def forward(self, x):
        x = self.proj(x).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], 1, -1), x), dim=1)
        return x + self.pos_embed


class TransformerEncoder(nn.Module):
    def __init__(self, embed_dim, num_heads, hidden_dim, dropout=0.1):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dim)
        self.attn = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.mlp = nn.Sequential(nn.Linear(embed_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, embed_dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, return_attention=False):
        normed = self.norm1(x)
        attn_out, attn_weights = self.attn(normed, normed, normed, need_weights=return_attention,
                                           average_attn_weights=False)
        x = x + self.dropout(attn_out)
        x = x + self.dropout(self.mlp(self.norm2(x)))
        return (x, attn_weights) if return_attention else x


class ViT(nn.Module):
    def __init__(self, num_classes=10, img_size=32, patch_size=4, embed_dim=128, depth=6, num_heads=4, mlp_dim=512):
        super().__init__()
        self.patch_embed = PatchEmbedding(img_size, patch_size, 3, embed_dim)
        self.encoder = nn.Sequential(*[TransformerEncoder(embed_dim, num_heads, mlp_dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x):
        x = self.encoder(self.patch_embed(x))
        return self.head(self.norm(x[:, 0]))
