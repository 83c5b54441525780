import mobilenets


def test_reference_body_counts() -> None:
    cost = mobilenets.count_cost(mobilenets.create_model("mobilenet_v1_100_224", num_classes=0))
    assert (cost.mult_adds, cost.weights) == (567_716_352, 3_185_088)
