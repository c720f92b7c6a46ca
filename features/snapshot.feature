@snapshot @paid @gpu @slow
Feature: Snapshot and restore
  A snapshot brings a machine's work back somewhere else: the model
  installed on a machine that is then deleted comes back, intact, on a new
  one. We learn how long the restore took and how big the snapshot was.

  Background:
    Given the Dumont Cloud API is healthy
    And I am logged in

  Scenario Outline: A <model> model survives the loss of its <gpu> through a snapshot
    Given the cheapest offer for a "<gpu>"
    And the balance covers the snapshot journey's maximum cost
    When I create an instance from that offer
    Then the instance is running within the time limit
    And I can connect to it over SSH
    When I install the model "<model>"
    Then the model's files match their checksums
    When I take a snapshot of the instance
    Then the snapshot is listed with the run's label
    When I delete the instance
    Then the instance is gone
    When I restore the snapshot on a new instance
    Then the model's files match their checksums
    And the GPU works and the model answers
    And the restore time, snapshot size and throughput are reported

    Examples:
      | model      | gpu       |
      | qwen2.5-7b | RTX A4000 |
