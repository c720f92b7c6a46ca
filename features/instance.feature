@instance @paid @gpu
Feature: Instance lifecycle
  As an SRE rehearsing a release, I rent the cheapest allowed GPU, prove it
  works end to end and give it back, and I learn how long each phase took
  and what it cost.

  Background:
    Given the Dumont Cloud API is healthy
    And I am logged in

  Scenario: Rent the cheapest GPU, install a model, snapshot, pause, resume and delete it
    Given the cheapest offer among the allowed GPUs
    And the balance covers the instance journey's maximum cost
    When I create an instance from that offer
    Then the instance is running within the time limit
    And I can connect to it over SSH
    When I install the model "qwen3-0.6b"
    Then the model's files match their checksums
    And the GPU works and the model answers
    When I take a snapshot of the instance
    Then the snapshot is listed with the run's label
    When I pause the instance
    Then the instance is stopped
    When I resume the instance
    Then the instance is running again within the time limit
    And I can connect to it over SSH
    And the model's files match their checksums
    When I delete the instance
    Then the instance is gone
    And every phase was timed and costed
