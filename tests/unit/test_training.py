import pytest

from qc.yamlfile import YamlFileError
from services.checks.rules import training


def test_the_organisations_training_is_read_from_deploy():
    names = training.names()
    assert names[0] == "Induction: what a quality checker does" and len(names) == len(set(names))


def test_a_wrong_training_file_names_what_is_wrong(tmp_path):
    path = tmp_path / "training.yaml"
    path.write_text('version: 1\ntraining:\n  - "Induction"\n  - ""\n  - 7\n')
    with pytest.raises(YamlFileError) as wrong:
        training.names(path)
    assert str(path) in str(wrong.value) and "training[1]" in str(wrong.value) and "training[2]" in str(wrong.value)
