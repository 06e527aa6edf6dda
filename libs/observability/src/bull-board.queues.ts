import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { BULL_BOARD_INSTANCE, BullBoardInstance } from '@bull-board/nestjs';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { QueueRegistry } from './queue-registry';

/** Puts every queue the app registers on Bull Board (no per-queue list to keep in step). */
@Injectable()
export class BullBoardQueues implements OnModuleInit {
  constructor(
    @Inject(BULL_BOARD_INSTANCE) private readonly board: BullBoardInstance,
    private readonly registry: QueueRegistry,
  ) {}

  onModuleInit(): void {
    this.board.setQueues(this.registry.queues().map((q) => new BullAdapter(q)));
  }
}
